"""The HTTP operation machinery both HTTP functions are built on, free of any framework: a
request and its answer (``web``), an operation declared with its typed path, query, header
and body parameters and each status's answer (``operation``; ``parameters``: one rule a
parameter type; ``bodies``: a request body, one type the document shows and pydantic
checks), every refusal and failure as an RFC 9457 problem (``problems``), and the OpenAPI
document generated from the declarations (``openapi``). It knows the wire format's types
and nothing of what the operations do.
"""
