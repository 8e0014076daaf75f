"""The platform's /admin, branded GoFly: superadmins run enterprises, accounts and the audit log here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("GoFly administration")
admin.site.site_title = _("GoFly administration")
admin.site.index_title = _("The platform")
# Django's "view site" would lead a superadmin to the console, which is for agents (403): no such link.
admin.site.site_url = None
