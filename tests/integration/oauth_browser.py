"""A stand-in for the person at the browser during "Sign in with Intercom", over HTTP (the real browser
is in test_login.py): the emulator's authorize page, its form, the redirect, or the address to paste."""
import os
import sys
import threading
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests


class _Forms(HTMLParser):
    """The forms of the authorize page (sign in, then Cancel): each one's action and hidden fields."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action"), {}))
        elif tag == "input" and attrs.get("type") == "hidden":
            self.forms[-1][1][attrs["name"]] = attrs.get("value", "")


class SigningInBrowser:
    """What a person does in the browser: open the page, sign in as `email` and authorize (or Cancel with
    `deny`), follow the redirect to the local callback. `on_redirect(location)` may change where the
    redirect goes first (an attacker's hand); with `paste_into`, the redirect is not followed but its
    address written there, as a person copies it from the address bar. Runs in a thread, as a real browser
    runs beside the waiting command."""

    def __init__(self, email, deny=False, on_redirect=None, paste_into=None):
        self.email, self.deny, self.on_redirect, self.paste_into = email, deny, on_redirect, paste_into
        self.pages, self.failure, self.visit = [], None, None

    def __call__(self, url):
        self.visit = threading.Thread(target=self._sign_in, args=(url,), daemon=True)
        self.visit.start()
        return True

    def finished(self):
        """Wait until the browser has read the callback's page (the login may finish first)."""
        self.visit.join(10)
        return self

    def _sign_in(self, url):
        try:
            with requests.Session() as session:
                page = session.get(url, timeout=10)
                page.raise_for_status()
                forms = _Forms()
                forms.feed(page.text)
                action, fields = forms.forms[1 if self.deny else 0]
                # A browser sends the clicked button's name and value with the form.
                fields = {**fields, "deny": "1"} if self.deny else {
                    **fields, "email": self.email, "password": "any password", "authorize": "1"}
                answer = session.post(urljoin(url, action), timeout=10, data=fields, allow_redirects=False)
                assert answer.status_code == 302, answer.text
                location = answer.headers["location"]
                if self.on_redirect:
                    location = self.on_redirect(location)
                if self.paste_into is not None:
                    self.paste_into.write(location + "\n")
                    self.paste_into.flush()
                    return
                self.pages.append(session.get(location, timeout=10, verify=False))
        except Exception as exc:  # seen by the test, which would otherwise only see a timeout
            self.failure = exc


@pytest.fixture
def pasted_stdin(monkeypatch):
    """stdin as a pipe the test's browser writes the copied address into."""
    reading, writing = os.pipe()
    stdin, paste = os.fdopen(reading), os.fdopen(writing, "w")
    monkeypatch.setattr(sys, "stdin", stdin)
    yield paste
    paste.close()
    stdin.close()
