# One image for every process of the system; docker-compose.yml picks the command.
# PYTHON_IMAGE: another base with Python 3.11 on PATH as `python` and `pip`, such as the
# stand-in `make compose-check` builds where no registry serves python:3.11-slim.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# The dependencies first, in a layer of their own: an edit of the code reuses it.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY README.md main.py ./
COPY functions functions
COPY runtime runtime
COPY infra infra
COPY cli cli
RUN pip install --no-deps . \
    && useradd --system --no-create-home --uid 10001 billing
# No process of the system needs root.
USER billing
# functions-framework finds its targets in ./main.py.
CMD ["python", "-m", "runtime", "list"]
