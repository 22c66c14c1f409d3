"""Adapters for RAG frameworks: a LangChain and a LlamaIndex retriever over a collection
(local or over HTTP). Each needs its extra: ``pip install hybridir[langchain]`` /
``hybridir[llamaindex]``.

Nothing is imported here: import the adapter module of your framework.

Example:
    >>> from hybridir.integrations.langchain import HybridirRetriever
    >>> retriever = HybridirRetriever.from_collection("my-col", k=5)  # doctest: +SKIP
    >>> retriever.invoke("heat pumps")[0].metadata["score"]  # doctest: +SKIP
    7.31
    >>> from hybridir.integrations import llamaindex
    >>> remote = llamaindex.HybridirRetriever.from_url(  # doctest: +SKIP
    ...     "http://127.0.0.1:8000", "my-col", api_key="…", group_by="document")
    >>> remote.retrieve("heat pumps")[0].node.node_id  # doctest: +SKIP
    'manual-7'
"""
