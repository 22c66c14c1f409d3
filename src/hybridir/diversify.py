"""Diversification of the fused top hits for RAG (see :class:`hybridir.config.DiversifyConfig`)."""
