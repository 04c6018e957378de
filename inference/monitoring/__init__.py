"""Monitoring: the CloudWatch metric names, accuracy alarms and drift detection."""
