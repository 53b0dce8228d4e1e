"""Settings of the stand-in for the Django original: its two apps on Postgres.

The database and MEDIA_ROOT come from the environment (the import tests set
them); nothing else of the original matters to the import.
"""
import os

SECRET_KEY = "fixture-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "blog",
    "users",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ["DJANGO_DB_HOST"],
        "PORT": os.environ["DJANGO_DB_PORT"],
        "NAME": os.environ["DJANGO_DB_NAME"],
        "USER": os.environ["DJANGO_DB_USER"],
        "PASSWORD": os.environ["DJANGO_DB_PASSWORD"],
    }
}
# The original's default (django_project used AutoField ids).
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
MEDIA_ROOT = os.environ.get("DJANGO_MEDIA_ROOT", "media")
MEDIA_URL = "/media/"
