# expect-line: 9 KP0104
# expect-line: 9 KP0104
# expect-line: 18 KP0104
# ARG BASE resolves the FROM; the final stage `from base` inherits it; `user ${APP_USER}`
# resolves to root; heredoc bodies hold no instructions
ARG BASE=ubuntu:22.04
ARG APP_USER=root

FROM --platform=linux/amd64 ${BASE} AS base
RUN apt-get update \
    # comments inside a continuation are dropped
    && apt-get install -y --no-install-recommends \
       ca-certificates \
    && rm -rf /var/lib/apt/lists/*

from base as final
ARG APP_USER
user ${APP_USER}
COPY <<EOF /etc/app.py
from flask import Flask
USER nobody
EOF
RUN <<-SCRIPT
	echo "FROM alpine"
	SCRIPT
CMD ["python3", "/etc/app.py"]
