"use strict";
// Routing rule conditions: for the field chosen, offer only its operators (the field's select carries
// them in data-operators), and the header name only for header conditions. Saving checks the same
// pairs, so without this script a wrong pair is refused with a message instead.
(function () {
    function fit(fieldSelect) {
        const row = fieldSelect.closest("tr");
        const operatorSelect = row && row.querySelector("select[name$='-operator']");
        const headerInput = row && row.querySelector("input[name$='-header_name']");
        if (!operatorSelect) {
            return;
        }
        const allowed = JSON.parse(fieldSelect.dataset.operators)[fieldSelect.value] || null;
        Array.from(operatorSelect.options).forEach((option) => {
            option.hidden = allowed !== null && option.value !== "" && !allowed.includes(option.value);
        });
        if (allowed && !allowed.includes(operatorSelect.value)) {
            operatorSelect.value = allowed[0];
        }
        if (headerInput) {
            headerInput.disabled = fieldSelect.value !== "header";
        }
    }

    document.addEventListener("change", (event) => {
        if (event.target.matches("select[data-operators]")) {
            fit(event.target);
        }
    });
    // Rows already on the page, and those "Add another condition" creates.
    document.addEventListener("DOMContentLoaded", () => {
        document.querySelectorAll("select[data-operators]").forEach(fit);
    });
    document.addEventListener("formset:added", (event) => {
        event.target.querySelectorAll("select[data-operators]").forEach(fit);
    });
}());
