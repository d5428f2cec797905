"""WhatsApp gateways: one protocol (``base``) and its adapters."""
