"""Qasid: a Telegram admin bot for WhatsApp bulk messaging."""
