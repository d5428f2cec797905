"""``GET /templates`` and ``GET /templates/{id}``: the owner's templates, as in the chat's
/templates (composing them stays in the chat)."""

from __future__ import annotations

from typing import Any

from bot.domain import Scope, Template
from bot.services.templates import TemplatesService
from bot.web.api.routing import (
    ApiCall,
    ApiResponse,
    ApiRouter,
    Example,
    Reply,
    Schema,
    nullable,
    obj,
    path_id,
)

router = ApiRouter("Templates", "The owner's message templates (made in the chat, "
                   "`/templates`): their texts, variables and variants.")

SCOPES = (Scope.MESSAGES_READ, Scope.CAMPAIGNS_READ)

TEMPLATE: Schema = obj({
    "id": {"type": "integer", "examples": [1]},
    "name": {"type": "string", "examples": ["Spring sale"]},
    "text": {"type": "string", "description": "The first variant.",
             "examples": ["{Hi|Hello} {{name|friend}}, 20% off this week!"]},
    "variables": {"type": "array", "items": {"type": "string"},
                  "description": "The variables its variants use, sorted.",
                  "examples": [["name"]]},
    "variants": {"type": "array", "items": {"type": "string"},
                 "description": "Every text; a campaign's batch i uses variant i mod n.",
                 "examples": [["{Hi|Hello} {{name|friend}}, 20% off this week!"]]},
    "media": nullable({"type": "string", "enum": ["image", "document"],
                       "description": "The kind of media sent with it, if any"}),
    "cloud": nullable(obj({
        "name": {"type": "string", "examples": ["spring_sale"]},
        "language": {"type": "string", "examples": ["az"]},
        "params": {"type": "array", "items": {"type": "string"},
                   "description": "Our variables filling {{1}}, {{2}}, ... in order"},
        "approved": {"type": "boolean", "description": "Linked in the chat as approved by "
                     "Meta: what Cloud API numbers send"},
    }, description="Its approved WhatsApp Cloud API twin, if linked")),
})


def template_json(templates: TemplatesService, template: Template) -> dict[str, Any]:
    names: set[str] = set()
    for n in range(len(template.variants)):
        names |= templates.compiled(template, n).variables
    cloud = template.cloud
    return {
        "id": template.id, "name": template.name,
        "text": template.variants[0] if template.variants else "",
        "variables": sorted(names), "variants": list(template.variants),
        "media": template.media_kind,
        "cloud": None if cloud is None else {"name": cloud.name, "language": cloud.language,
                                             "params": list(cloud.params), "approved": True},
    }


@router.route("GET", "/templates", scope=SCOPES, summary="The owner's templates",
              responses={200: Reply("Every template of the owner's, oldest first", obj(
                  {"data": {"type": "array", "items": TEMPLATE}}))},
              examples=[Example("Every template", 200)])
async def list_templates(call: ApiCall) -> ApiResponse:
    """Every template, with its variants and variables."""
    service = call.services.templates
    found = await service.list(call.owner_id)
    return ApiResponse({"data": [template_json(service, t) for t in found]})


@router.route("GET", "/templates/{id}", scope=SCOPES, summary="One template",
              params=[path_id("The template's id")],
              responses={200: Reply("The template", TEMPLATE)},
              examples=[Example("A template", 200, path={"id": 1}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def get_template(call: ApiCall) -> ApiResponse:
    """A template: its texts, the variables they use and its Cloud API twin."""
    service = call.services.templates
    template = await service.get(call.owner_id, call.path_params["id"])
    return ApiResponse(template_json(service, template))
