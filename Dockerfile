# onethread as a container image: `docker compose up` (docker-compose.yml) runs two of them behind
# nginx, on PostgreSQL and Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY inbox inbox
COPY adapters adapters
COPY web web
COPY migrations migrations
COPY bench bench
RUN pip install --no-cache-dir . && useradd --system --home /data onethread && mkdir -p /data \
    && chown onethread /data
USER onethread
EXPOSE 8000 2525
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["onethread", "serve", "--host", "0.0.0.0", "--port", "8000"]
