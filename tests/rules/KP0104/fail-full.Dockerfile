# expect-line: 6 KP0104
# expect-line: 6 KP0104
# expect-line: 6 KP0104
# full base, not pinned, no USER: three findings at the final FROM
# A single-stage build on the full python image, run as root.
FROM python:3.12

WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
CMD ["python", "main.py"]
