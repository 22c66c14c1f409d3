"""Adapters for RAG frameworks: a LangChain and a LlamaIndex retriever over a collection
(local or over HTTP). Each needs its extra: ``pip install hybridir[langchain]`` /
``hybridir[llamaindex]``."""
