"""The deploy rehearsal (scripts/deploy-rehearsal): the real CDK CLI bootstraps, deploys and destroys every stack of
the example app against moto in server mode on loopback, and ``python -m constructs_pkg.local run --aws`` runs against
the deployed stacks in between.

moto stands in for an AWS account here, and its CloudFormation falls short of AWS's in ways a deploy trips on. The
workarounds live in this package, never in the constructs: ``moto_fixes`` (moto's own behaviour, corrected where it
parts from AWS's) and ``moto_resources`` (the resource types moto serves the services of but its CloudFormation cannot
create). The package is development tooling: it is not part of the wheel.
"""
