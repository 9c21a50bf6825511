"""Provision LogDig in AWS as plan then apply; `setup_aws.py` is the command line."""
