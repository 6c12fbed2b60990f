"""Serverless workers: the deployment package, the local emulation of Lambda and its event sources."""
