from django.core.management.base import BaseCommand, CommandError

from lending.selectors import ledger_mismatches


class Command(BaseCommand):
    help = (
        "Prove the stored balances agree with the ledger, for every loan: each installment's paid amounts = its "
        "allocations, its adjusted (waived, written off, restructured) amounts = its entry lines and its penalty "
        "= its accrual entries, so outstanding = due + accrued - paid - waived - written off; each payment = "
        "allocated + credit + refunded; credit balances = unallocated payments; what stays written off = the "
        "write-off entries; the schedule's principal = the loan's plus capitalised arrears; the loan's status "
        "agrees with what it owes. Exits non-zero and lists offending ids when any check fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20, help="ids to list per failed check")

    def handle(self, *args, limit, **options):
        failures = []
        for check, ids in ledger_mismatches(limit).items():
            if ids:
                failures.append(check)
                self.stdout.write(self.style.ERROR(f"FAIL {check}: ids {', '.join(map(str, ids))}"))
            else:
                self.stdout.write(self.style.SUCCESS(f"ok   {check}"))
        if failures:
            raise CommandError(f"ledger checks failed: {', '.join(failures)}")
