"""The demo app's handler, ``app.handler``: this folder is its code asset (see ``constructs_pkg.local.demo_app``)."""
