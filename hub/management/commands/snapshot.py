from django.core.management.base import BaseCommand, CommandError

from hub import snapshots


class Command(BaseCommand):
    help = (
        "Save, restore, list or delete snapshots of the whole hub (database and replication storage), "
        "or reset it to the demo data."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("save", help="Save the hub's state under a new name.").add_argument("name")
        sub.add_parser(
            "restore", help="Put the hub back as the snapshot holds it; appliances and agents resynchronize."
        ).add_argument("name")
        sub.add_parser("delete", help="Delete a snapshot.").add_argument("name")
        sub.add_parser("list", help="List the snapshots, newest first.")
        sub.add_parser("reset", help="Back to the demo data (what seed_demo makes); replicated data goes.")

    def handle(self, *args, action, **options):
        try:
            if action == "save":
                manifest = snapshots.snapshot_save(options["name"], created_by="manage.py")
                self.stdout.write(f"Saved snapshot {manifest['name']} ({_size(manifest)}).")
            elif action == "restore":
                manifest = snapshots.snapshot_restore(options["name"])
                self.stdout.write(
                    f"Restored snapshot {manifest['name']} of {manifest['createdAt']}; hub epoch "
                    f"{manifest['hubEpoch']}: appliances and agents resynchronize at their next heartbeat."
                )
            elif action == "delete":
                snapshots.snapshot_delete(options["name"])
                self.stdout.write(f"Deleted snapshot {options['name']}.")
            elif action == "reset":
                snapshots.snapshot_reset()
                self.stdout.write("The hub holds the demo data again.")
            else:
                for manifest in snapshots.snapshot_list():
                    self.stdout.write(f"{manifest['name']}\t{manifest['createdAt']}\t{_size(manifest)}")
        except snapshots.SnapshotError as error:
            raise CommandError(error.message) from error


def _size(manifest: dict) -> str:
    total = sum(manifest.get(key, 0) for key in ("databaseBytes", "fileBytes", "objectBytes"))
    return f"{total / 1e6:.1f} MB"
