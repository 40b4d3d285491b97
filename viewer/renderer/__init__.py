"""The renderer: a message's content in, safe HTML out, within a budget.

What enters is a ``memos_api.Message`` (role, content parts, times, tool calls), untrusted. What
leaves is HTML that holds only the tags, attributes and URLs we emit, made within a CPU time and
size budget per message and per page, or the message as escaped text with a quiet note: never an
error. ``formatting`` decides how a body is shown (Markdown with ``markdown`` and ``highlight``,
or as typed with ``plain``; links with ``autolink``; tool calls and answers with ``tools`` and
``jsontext``); ``presentation`` lays messages out (day breaks, what collapses and what of it
shows); ``message_cache`` keeps rendered messages for reuse. Its few words (notes, labels) are in
the reader's language through Flask-Babel; nothing here builds URLs or reads a request.
"""
