"""Users' Role rows become membership of the default roles' groups; superadmins keep only is_superuser.

The groups get their permissions after the migrate, from accounts.services.roles_ensure (post_migrate):
the permissions of the chat and enterprises apps may not exist yet at this point.
"""

from django.db import migrations

# Frozen copies of accounts.permissions.DEFAULT_ROLES at the time of this migration.
GROUP_NAMES = {
    "enterprise_admin": "商户管理员 Enterprise admin",
    "agent": "客服 Agent",
}
SUPERADMIN_NAME = "超级管理员 Superadmin"


def roles_to_groups(apps, schema_editor):
    db = schema_editor.connection.alias
    User = apps.get_model("accounts", "User")
    Group = apps.get_model("auth", "Group")
    RoleGroup = apps.get_model("accounts", "RoleGroup")
    Membership = User.groups.through
    for slug, name in GROUP_NAMES.items():
        role = RoleGroup.objects.using(db).filter(slug=slug).first()
        if role is None:
            group = Group.objects.using(db).get_or_create(name=name)[0]
            role = RoleGroup.objects.using(db).create(group=group, slug=slug)
        user_ids = User.objects.using(db).filter(role__slug=slug).values_list("pk", flat=True)
        Membership.objects.using(db).bulk_create(
            [Membership(user_id=user_id, group_id=role.group_id) for user_id in user_ids], ignore_conflicts=True
        )


def groups_to_roles(apps, schema_editor):
    db = schema_editor.connection.alias
    User = apps.get_model("accounts", "User")
    Role = apps.get_model("accounts", "Role")
    RoleGroup = apps.get_model("accounts", "RoleGroup")
    roles = {slug: Role.objects.using(db).get_or_create(slug=slug, defaults={"name": name})[0] for slug, name in GROUP_NAMES.items()}
    superadmin = Role.objects.using(db).get_or_create(slug="superadmin", defaults={"name": SUPERADMIN_NAME})[0]
    User.objects.using(db).filter(is_superuser=True, role=None).update(role=superadmin)
    # In order: a user in both groups goes back as an enterprise admin.
    for slug, role in roles.items():
        group_ids = RoleGroup.objects.using(db).filter(slug=slug).values_list("group_id", flat=True)
        user_ids = list(User.objects.using(db).filter(groups__in=group_ids, role=None).values_list("pk", flat=True))
        User.objects.using(db).filter(pk__in=user_ids).update(role=role)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_rolegroup"),
    ]

    operations = [
        migrations.RunPython(roles_to_groups, groups_to_roles),
    ]
