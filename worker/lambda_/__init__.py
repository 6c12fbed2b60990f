"""The Lambda engine's tooling: `edgecloud lambda`, the deployment package, the local emulation of Lambda and its
event sources, the container image. The handler itself is ``edgecloud.worker.lambda_handler``."""
