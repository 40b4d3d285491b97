"""The whole path over real HTTP: app -> MemOSClient -> the local store's MemOS server."""

import re

from page_text import texts

from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID


def test_walk_a_conversation_back_to_its_start(app_factory, memos_server):
    memos_server.store.add_messages("u", "c", [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-03-01 09:00:{n:02d}"} for n in range(17)])
    client = app_factory(MEMOS_BASE_URL=memos_server.base_url + "/",
                         MEMOS_API_KEY=memos_server.api_key, VIEWER_ACCESS="open").test_client()
    html = client.get("/chat?user_id=u&conversation_id=c").get_data(as_text=True)
    seen = texts(html)
    for _ in range(10):
        match = re.search(r'data-hx-get="([^"]+)"', html)
        if not match:
            break
        html = client.get(match.group(1).replace("&amp;", "&"),
                          headers={"HX-Request": "true"}).get_data(as_text=True)
        seen = texts(html) + seen
    assert seen == [f"message {n}" for n in range(17)]
    assert 'id="conversation-start"' in html


def test_demo_conversation_over_http(app_factory, memos_server):
    memos_server.store.seed_demo()
    client = app_factory(MEMOS_BASE_URL=memos_server.base_url,
                         MEMOS_API_KEY=memos_server.api_key, VIEWER_ACCESS="open").test_client()
    response = client.get(f"/chat?user_id={DEMO_USER_ID}&conversation_id={DEMO_CONVERSATION_ID}")
    assert response.status_code == 200 and len(texts(response.get_data(as_text=True))) >= 5


def test_api_key_never_reaches_the_browser(app_factory, memos_server):
    memos_server.store.seed_demo()
    client = app_factory(MEMOS_BASE_URL=memos_server.base_url,
                         MEMOS_API_KEY=memos_server.api_key, VIEWER_ACCESS="open").test_client()
    for url in ("/", f"/chat?user_id={DEMO_USER_ID}&conversation_id={DEMO_CONVERSATION_ID}",
                "/chat?user_id=&conversation_id=x", "/healthz", "/missing"):
        response = client.get(url)
        body = response.get_data(as_text=True) + str(response.headers)
        assert memos_server.api_key not in body
