# One image for every process of the system; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md main.py ./
COPY functions functions
COPY runtime runtime
COPY infra infra
COPY cli cli
RUN pip install .
# functions-framework finds its targets in ./main.py.
CMD ["python", "-m", "runtime", "list"]
