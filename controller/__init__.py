"""The controller: HTTP API (Flask under gunicorn), clip ledger, completions
consumer, autoscaling loop and fleet backends (local | ec2 | asg)."""
