"""Telling people what happened: customer emails (rendered, kept, sent by the outbox worker through
SMTP) and outbound webhooks."""
