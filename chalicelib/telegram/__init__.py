"""Forwarding of alerts from the SNS topic `alerts` to a Telegram chat."""
