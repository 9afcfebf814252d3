# ARGs without a value: nothing to judge
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
USER ${APP_UID}
