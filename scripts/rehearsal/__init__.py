"""The deploy rehearsal (scripts/deploy-rehearsal): the real CDK CLI bootstraps, deploys and destroys every stack of
the example app against moto in server mode on loopback, and ``python -m constructs_pkg.local run --aws`` runs against
the deployed stacks in between.

moto stands in for an AWS account here, and its CloudFormation falls short of AWS's in ways a deploy trips on. The
workarounds live in this package, never in the constructs: ``moto_fixes`` (moto's own behaviour, corrected where it
parts from AWS's), ``moto_permissions`` (Lambda's check of a mapping's role), ``moto_resources`` (the resource types
moto serves the services of but its CloudFormation cannot create), all installed in ``moto_server``'s process only.
``rehearse`` runs the steps and ``deployed`` checks each stack. The package is development tooling, not in the wheel.
"""
