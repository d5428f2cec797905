"""What the API's routes reach: the same services as the chat (``bot/app.py`` hands them).

Each area adds the services its routes need as a field here (one line each)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.analytics import AnalyticsService
from bot.services.automations import AutomationsService
from bot.services.billing import BillingService
from bot.services.campaigns import CampaignsService
from bot.services.campaigns_api import CampaignsApiService
from bot.services.contacts_api import ContactsApiService
from bot.services.idempotency import IdempotencyService
from bot.services.messages import MessagesService
from bot.services.templates import TemplatesService
from bot.services.webhooks import WebhooksService
from bot.web.api.auth import Authenticator


@dataclass(slots=True)
class ApiServices:
    keys: Authenticator  # bot.services.api_keys.ApiKeysService
    idempotency: IdempotencyService
    templates: TemplatesService
    analytics: AnalyticsService
    billing: BillingService
    contacts: ContactsApiService
    messages: MessagesService
    campaigns: CampaignsService
    campaigns_api: CampaignsApiService
    webhooks: WebhooksService
    automations: AutomationsService | None = None  # /automations (issue 21)
