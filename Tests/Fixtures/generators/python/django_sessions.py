"""Real Django sessions in Redis through Django's own cache session backends
(`django.contrib.sessions.backends.cache` and `cached_db`) and its Redis cache
(`django.core.cache.backends.redis.RedisCache`), as a login would leave them.
Usage: django_sessions.py PORT"""
import sys
import django
from django.conf import settings

port = sys.argv[1]
settings.configure(
    SECRET_KEY="fixture-only",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}},
    SESSION_SERIALIZER="django.contrib.sessions.serializers.JSONSerializer",
    USE_TZ=True,
)
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.sessions.backends import cache, cached_db

for module, key, user in [(cache, "djcache0000000000000000000000000a", "7"), (cached_db, "djcacheddb00000000000000000000000b", "8")]:
    s = module.SessionStore(session_key=None)
    s["_auth_user_id"] = user
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = "3f2c" * 10
    s["cart"] = {"items": 2, "total": "12.50"}
    s["visits"] = 3
    s.set_expiry(1209600)
    s._session_key = key
    s.save(must_create=True)
print("django", django.get_version())
