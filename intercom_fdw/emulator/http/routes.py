"""Which backend operation answers which Intercom endpoint: the whole API surface in one table.

Templates use the OpenAPI file's paths. Literal paths come before parameterised ones that would
also match them (`/companies/scroll` before `/companies/{company_id}`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from intercom_fdw.emulator.backend import (
    catalog, catalog_writes, companies, company_writes, contact_writes, contacts, conversation_writes, conversations,
)


@dataclass(frozen=True)
class ApiRoute:
    method: str
    template: str
    operation: Callable
    status: int = 200

    @property
    def writes(self) -> bool:
        """Changes state (so cached search results must be recomputed)."""
        return self.method != "GET" and not self.template.endswith(("/search", "/list"))


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

WRITE_ROUTES = [
    R("POST", "/contacts", contact_writes.create_contact),
    R("POST", "/contacts/merge", contact_writes.merge_contacts),
    R("PUT", "/contacts/{contact_id}", contact_writes.update_contact),
    R("DELETE", "/contacts/{contact_id}", contact_writes.delete_contact),
    R("POST", "/contacts/{contact_id}/archive", contact_writes.archive_contact),
    R("POST", "/contacts/{contact_id}/unarchive", contact_writes.unarchive_contact),
    R("POST", "/contacts/{contact_id}/companies", contact_writes.attach_company),
    R("DELETE", "/contacts/{contact_id}/companies/{company_id}", contact_writes.detach_company),
    R("POST", "/contacts/{contact_id}/tags", contact_writes.tag_contact),
    R("DELETE", "/contacts/{contact_id}/tags/{tag_id}", contact_writes.untag_contact),
    R("POST", "/contacts/{contact_id}/subscriptions", contact_writes.attach_subscription),
    R("DELETE", "/contacts/{contact_id}/subscriptions/{subscription_id}", contact_writes.detach_subscription),
    R("POST", "/contacts/{contact_id}/notes", contact_writes.create_note),
    R("POST", "/companies", company_writes.create_or_update_company),
    R("PUT", "/companies/{company_id}", company_writes.update_company),
    R("DELETE", "/companies/{company_id}", company_writes.delete_company),
    R("POST", "/tags", company_writes.tag_objects),
    R("DELETE", "/tags/{tag_id}", company_writes.delete_tag),
    R("POST", "/conversations", conversation_writes.create_conversation),
    R("PUT", "/conversations/{conversation_id}", conversation_writes.update_conversation),
    R("DELETE", "/conversations/{conversation_id}", conversation_writes.delete_conversation),
    R("POST", "/conversations/{conversation_id}/reply", conversation_writes.reply_conversation),
    R("POST", "/conversations/{conversation_id}/parts", conversation_writes.manage_conversation),
    R("POST", "/conversations/{conversation_id}/tags", conversation_writes.tag_conversation),
    R("DELETE", "/conversations/{conversation_id}/tags/{tag_id}", conversation_writes.untag_conversation),
    R("POST", "/conversations/{conversation_id}/convert", conversation_writes.convert_conversation),
    R("POST", "/tickets", conversation_writes.create_ticket),
    R("PUT", "/tickets/{ticket_id}", conversation_writes.update_ticket),
    R("DELETE", "/tickets/{ticket_id}", conversation_writes.delete_ticket),
    R("POST", "/tickets/{ticket_id}/reply", conversation_writes.reply_ticket),
    R("POST", "/tickets/{ticket_id}/tags", conversation_writes.tag_ticket),
    R("DELETE", "/tickets/{ticket_id}/tags/{tag_id}", conversation_writes.untag_ticket),
    R("POST", "/ticket_types", catalog_writes.create_ticket_type),
    R("PUT", "/ticket_types/{ticket_type_id}", catalog_writes.update_ticket_type),
    R("POST", "/ticket_types/{ticket_type_id}/attributes", catalog_writes.create_ticket_type_attribute),
    R("PUT", "/ticket_types/{ticket_type_id}/attributes/{attribute_id}", catalog_writes.update_ticket_type_attribute),
    R("POST", "/data_attributes", catalog_writes.create_data_attribute),
    R("PUT", "/data_attributes/{data_attribute_id}", catalog_writes.update_data_attribute),
    R("POST", "/events", catalog_writes.create_event, status=202),
    R("POST", "/events/summaries", catalog_writes.create_event_summaries),
    R("POST", "/messages", catalog_writes.create_message),
    R("POST", "/articles", catalog_writes.create_article),
    R("PUT", "/articles/{article_id}", catalog_writes.update_article),
    R("DELETE", "/articles/{article_id}", catalog_writes.delete_article),
    R("POST", "/help_center/collections", catalog_writes.create_collection),
    R("PUT", "/help_center/collections/{collection_id}", catalog_writes.update_collection),
    R("DELETE", "/help_center/collections/{collection_id}", catalog_writes.delete_collection),
]

ALL_ROUTES = API_ROUTES + WRITE_ROUTES
