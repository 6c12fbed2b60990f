"""Infrastructure as code: the CloudFormation stack and `edgecloud infra`."""
