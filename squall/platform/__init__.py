"""Platform integration modules (``squall.platform.asyncio``)."""
