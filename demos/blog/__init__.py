"""A blog on squall.database: Markdown entries, an archive, an Atom feed,
author sign-in. ``python -m demos.blog [--db URL]``; see demos/blog/app.py."""
