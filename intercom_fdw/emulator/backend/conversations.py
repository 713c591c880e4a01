"""Conversations (list without parts, search, get with at most 500 parts) and tickets (get, search).

There is no GET /tickets: tickets are read by id or through the search (intercom-api-notes.md).
"""
from __future__ import annotations

from intercom_fdw.emulator import views
from intercom_fdw.emulator.backend import Req, Runtime, SearchContext, require
from intercom_fdw.emulator.backend.searching import run_search
from intercom_fdw.emulator.paging.cursor import CursorLimits, per_page_value, table_page
from intercom_fdw.emulator.search_schemas import CONVERSATION_SEARCH, TICKET_SEARCH
from intercom_fdw.emulator.workspace import Workspace

CONVERSATION_LIST = CursorLimits(default=20, maximum=150)


def list_conversations(ws: Workspace, rt: Runtime, req: Req) -> dict:
    per_page = per_page_value(req.query.get("per_page"), CONVERSATION_LIST)
    ctx = SearchContext(ws, rt)
    items, pages = table_page(ws.conversations, per_page, req.query.get("starting_after"), lambda _c: True,
                              len(ws.conversations), req.query.get("page"))
    return {"type": "conversation.list", "conversations": [views.conversation(ws, c, ctx.custom_attributes)
                                                           for c in items],
            "total_count": len(ws.conversations), "pages": pages}


def conversation_by_id(ws: Workspace, conversation_id: str) -> dict:
    return require(ws.conversations.get(conversation_id), "Resource")


def get_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return views.conversation(ws, conversation_by_id(ws, req.path["conversation_id"]), with_parts=True)


def search_conversations(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ctx = SearchContext(ws, rt)
    items, pages, total = run_search(ws, rt, req, CONVERSATION_SEARCH, ws.conversations, ctx)
    return {"type": "conversation.list", "conversations": [views.conversation(ws, c, ctx.custom_attributes)
                                                           for c in items],
            "total_count": total, "pages": pages}


def ticket_by_id(ws: Workspace, ticket_id: str) -> dict:
    return require(ws.tickets.get(ticket_id), "Ticket", "ticket_not_found")


def get_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return views.ticket(ws, ticket_by_id(ws, req.path["ticket_id"]), with_parts=True)


def search_tickets(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ctx = SearchContext(ws, rt)
    items, pages, total = run_search(ws, rt, req, TICKET_SEARCH, ws.tickets, ctx)
    return {"type": "ticket.list", "tickets": [views.ticket(ws, t) for t in items], "total_count": total,
            "pages": pages}
