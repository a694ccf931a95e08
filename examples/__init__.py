"""Deployable example stacks, one per pattern; ``app.py`` puts them in one CDK app (cdk.json runs it)."""
