"""Query-string filters of the REST API."""

import django_filters as filters


class StrictFilterSet(filters.FilterSet):
    """django-filter reads `?status=` as "no filter"; here it is a 400, since it is most likely a caller's
    URL template with a missing value, and answering everything would hide that."""

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            if name in self.data and any(not value.strip() for value in self.data.getlist(name)):
                self.form.errors.pop(name, None)  # "not a valid choice" would only blur the cause
                self.form.add_error(name, "This parameter may not be empty.")
                valid = False
        return valid
