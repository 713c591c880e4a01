"""Which backend operation answers which Intercom endpoint: the whole API surface in one table.

Templates use the OpenAPI file's paths. Literal paths come before parameterised ones that would
also match them (`/companies/scroll` before `/companies/{company_id}`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from intercom_fdw.emulator.backend import catalog, companies, contacts, conversations


@dataclass(frozen=True)
class ApiRoute:
    method: str
    template: str
    operation: Callable
    status: int = 200


R = ApiRoute

API_ROUTES = [
    R("GET", "/me", catalog.me),
    R("GET", "/admins", catalog.list_admins),
    R("GET", "/admins/activity_logs", catalog.activity_logs),
    R("GET", "/admins/{admin_id}", catalog.get_admin),
    R("GET", "/teams", catalog.list_teams),
    R("GET", "/teams/{team_id}", catalog.get_team),
    R("GET", "/tags", catalog.list_tags),
    R("GET", "/tags/{tag_id}", catalog.get_tag),
    R("GET", "/segments", catalog.list_segments),
    R("GET", "/segments/{segment_id}", catalog.get_segment),
    R("GET", "/subscription_types", catalog.list_subscription_types),
    R("GET", "/data_attributes", catalog.list_data_attributes),
    R("GET", "/ticket_types", catalog.list_ticket_types),
    R("GET", "/ticket_types/{ticket_type_id}", catalog.get_ticket_type),
    R("GET", "/ticket_states", catalog.list_ticket_states),
    R("GET", "/help_center/help_centers", catalog.list_help_centers),
    R("GET", "/help_center/help_centers/{help_center_id}", catalog.get_help_center),
    R("GET", "/help_center/collections", catalog.list_collections),
    R("GET", "/help_center/collections/{collection_id}", catalog.get_collection),
    R("GET", "/articles", catalog.list_articles),
    R("GET", "/articles/{article_id}", catalog.get_article),
    R("GET", "/notes/{note_id}", catalog.get_note),
    R("GET", "/events", catalog.list_events),
    R("GET", "/companies", companies.list_companies),
    R("POST", "/companies/list", companies.list_companies_post),
    R("GET", "/companies/scroll", companies.scroll_companies),
    R("GET", "/companies/{company_id}", companies.get_company),
    R("GET", "/companies/{company_id}/contacts", companies.company_contacts),
    R("GET", "/companies/{company_id}/segments", companies.company_segments),
    R("GET", "/contacts", contacts.list_contacts),
    R("POST", "/contacts/search", contacts.search_contacts),
    R("GET", "/contacts/find_by_external_id/{external_id}", contacts.find_by_external_id),
    R("GET", "/contacts/{contact_id}", contacts.get_contact),
    R("GET", "/contacts/{contact_id}/companies", contacts.contact_companies),
    R("GET", "/contacts/{contact_id}/segments", contacts.contact_segments),
    R("GET", "/contacts/{contact_id}/subscriptions", contacts.contact_subscriptions),
    R("GET", "/contacts/{contact_id}/tags", contacts.contact_tags),
    R("GET", "/contacts/{contact_id}/notes", contacts.contact_notes),
    R("GET", "/conversations", conversations.list_conversations),
    R("POST", "/conversations/search", conversations.search_conversations),
    R("GET", "/conversations/{conversation_id}", conversations.get_conversation),
    R("GET", "/tickets/{ticket_id}", conversations.get_ticket),
    R("POST", "/tickets/search", conversations.search_tickets),
]
