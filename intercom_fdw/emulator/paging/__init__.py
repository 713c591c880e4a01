"""One module per paging style Intercom uses; every list endpoint goes through one of them.

- `cursor`: `per_page` + `starting_after`, next cursor at `pages.next.starting_after` (also search).
- `page_number`: `page` + `per_page`, `pages.total_pages` (companies list, company segments).
- `scroll`: the companies scroll (`scroll_param`, one open scroll per workspace).
"""
