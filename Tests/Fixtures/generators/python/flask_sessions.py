"""A real Flask-Session (Redis) session written by a real request: a Flask app with
SESSION_TYPE=redis handles a login request and Flask-Session stores the session
(msgpack, its default serializer) under `session:<sid>`.
Usage: flask_sessions.py PORT"""
import sys
import redis
from flask import Flask, session
from flask_session import Session

port = int(sys.argv[1])
app = Flask(__name__)
app.config.update(SESSION_TYPE="redis", SESSION_REDIS=redis.Redis(port=port), SECRET_KEY="fixture-only",
                  SESSION_PERMANENT=True, PERMANENT_SESSION_LIFETIME=3600)
Session(app)


@app.route("/login")
def login():
    session["_user_id"] = "alice"
    session["_fresh"] = True
    session["cart"] = [{"sku": "tea", "qty": 2}]
    session["visits"] = 1
    return "ok"


with app.test_client() as c:
    c.get("/login")
print("flask-session ok")
