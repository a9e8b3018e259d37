# livepeer-webhooks: the same server as the Procfile's web line.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app
COPY pyproject.toml requirements.txt README.md ./
COPY webhook_service ./webhook_service
RUN pip install -r requirements.txt \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent app

USER app
EXPOSE 8000
# No curl in the slim image: the standard library does the check.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)"
# exec form: gunicorn is PID 1's child-free replacement and receives SIGTERM directly.
CMD ["livepeer-webhooks", "serve"]
