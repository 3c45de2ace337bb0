"""A chat room on squall: long polling (and WebSocket when available).

``python -m demos.chat --port=8888`` runs it alone; ``make run`` starts it
through ``python -m demos``. See ``docs/chat.md``.
"""
