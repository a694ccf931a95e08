"""Runtime code bundled into the library's Lambda functions; never imports aws_cdk."""
