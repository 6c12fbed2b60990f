"""The stack's credentials table and its optional HTTPS load balancer (ACM certificate)."""

from __future__ import annotations

from edgecloud.config import from_dict

from .test_template import _deploy, _user_data_config


def test_the_stack_holds_the_credentials_table_and_the_controller_uses_it(moto_account, settings):
    aws, ami = moto_account
    stack, _ = _deploy(aws, ami, settings, "ec-cred", CreateController="true")
    out = stack.outputs()
    table = aws.dynamodb.describe_table(TableName=out["CredentialsTable"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert from_dict(_user_data_config(aws, "ec-cred-controller")).tables.credentials == out["CredentialsTable"]
    assert "LoadBalancerDnsName" not in out and out["ControllerUrl"].startswith("http://")  # off by default
    assert from_dict(_user_data_config(aws, "ec-cred-controller")).controller.trusted_proxies == []


def test_a_certificate_puts_the_controller_behind_an_https_load_balancer(moto_account, settings):
    aws, ami = moto_account
    cert = aws.client("acm").request_certificate(DomainName="api.example.com")["CertificateArn"]
    stack, _ = _deploy(
        aws,
        ami,
        settings,
        "ec-tls",
        CreateController="true",
        CertificateArn=cert,
        ControllerIngressCidr="203.0.113.0/24",
    )
    out = stack.outputs()
    assert out["ControllerUrl"] == f"https://{out['LoadBalancerDnsName']}"
    elb = aws.client("elbv2")
    (lb,) = elb.describe_load_balancers(Names=["ec-tls-api"])["LoadBalancers"]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    assert listener["Certificates"][0]["CertificateArn"] == cert
    (group,) = elb.describe_target_groups(Names=["ec-tls-controller"])["TargetGroups"]
    assert (group["Protocol"], group["HealthCheckPath"]) == ("HTTP", "/healthz")
    # The controller's nginx takes the client's address from the load balancer's X-Forwarded-For.
    trusted = from_dict(_user_data_config(aws, "ec-tls-controller")).controller.trusted_proxies
    assert {str(net) for net in trusted} == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}


def test_behind_the_load_balancer_only_it_reaches_the_api_port(template):
    resources = template["Resources"]
    direct = resources["ControllerSecurityGroup"]["Properties"]["SecurityGroupIngress"]["Fn::If"]
    assert direct[0] == "WithDirectIngress"
    assert template["Conditions"]["WithDirectIngress"] == {
        "Fn::And": [{"Fn::Condition": "WithControllerIngress"}, {"Fn::Not": [{"Fn::Condition": "WithLoadBalancer"}]}]
    }
    from_lb = resources["ControllerFromLoadBalancer"]["Properties"]
    assert from_lb["SourceSecurityGroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}
    assert template["Parameters"]["CertificateArn"]["Default"] == ""  # no load balancer unless asked
    attrs = {a["Key"]: a["Value"] for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
    assert int(attrs["idle_timeout.timeout_seconds"]) > 60  # outlives a ?wait=60 long poll
