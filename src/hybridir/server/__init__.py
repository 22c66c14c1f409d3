"""HTTP search service over hybridir collections (FastAPI), thin over the library.

``create_app(ServerConfig(...))`` builds the app; ``hybridir serve`` runs it with uvicorn.
Needs the ``server`` extra.
"""

from hybridir.server.config import ServerConfig

__all__ = ["ServerConfig"]
