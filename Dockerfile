# One image for both roles (docs/deploy.md): the web app under gunicorn (default command) and the
# worker (`flask --app wsgi worker`). Not built in this repository's CI: the build machines have no
# container engine; the image only installs the package as bin/setup-venv does.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PROMETHEUS_MULTIPROC_DIR=/run/flashmentor/metrics \
    FLASHMENTOR_LOG_FORMAT=json

RUN useradd --system --uid 10001 --home-dir /app flashmentor
WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY calendars ./calendars
COPY freebusy ./freebusy
COPY scheduling ./scheduling
COPY worker ./worker
COPY migrations ./migrations
COPY wsgi.py gunicorn.conf.py ./
RUN pip install . && mkdir -p /run/flashmentor/metrics && chown -R flashmentor /run/flashmentor

USER flashmentor
EXPOSE 8000
# The metrics directory is emptied at each container start (it lives in the container's layer;
# mount a tmpfs there to keep it in memory).
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\"/* && exec gunicorn -c gunicorn.conf.py wsgi:app"]
