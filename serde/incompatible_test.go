package serde

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// refusingRegistry answers every registration like Apicurio refusing a
// schema under BACKWARD (its real 409 body).
type refusingRegistry struct{}

func (refusingRegistry) Register(_ context.Context, subject, _ string) (int, error) {
	return 0, &RegistryError{Op: "register subject " + subject, StatusCode: 409, ErrorCode: 409,
		Message: "io.apicurio.registry.rules.violation.RuleViolationException: Incompatible artifact: " + subject +
			" [AVRO], num of incompatible diffs: {1}, list of diff types: [c at /fields/0/type/1/fields/1]"}
}

func (refusingRegistry) Schema(context.Context, int) (string, error) { return "", errors.New("unused") }

// A refused schema names the table, the DDL that changed it, the
// registry's reason and the operator's options, and stays classifiable.
func TestIncompatibleSchemaError(t *testing.T) {
	enc, err := NewEncoder(refusingRegistry{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tbl := &schema.Table{Database: "shop_1", Name: "orders", PrimaryKey: []int{0}, DDL: "ALTER TABLE orders ADD COLUMN c INT NOT NULL",
		Columns: []schema.Column{{Name: "id", Type: schema.TypeInt}, {Name: "c", Type: schema.TypeInt}}}
	ev := &change.Event{Op: change.OpCreate, Table: tbl, After: change.Row{int32(1), int32(2)}}
	_, err = enc.Messages(context.Background(), nil, "p.shop.orders", ev, time.Now())
	var ie *IncompatibleSchemaError
	if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatibleSchema) {
		t.Fatalf("err %v: want an IncompatibleSchemaError", err)
	}
	msg := err.Error()
	for _, want := range []string{"shop_1.orders", "p.shop.orders-key", `"ALTER TABLE orders ADD COLUMN c INT NOT NULL"`,
		"Incompatible artifact", "list of diff types: [c at", "DEFAULT", "nullable", `{"compatibility":"NONE"}`, "new topic"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "RuleViolationException") {
		t.Errorf("message keeps the Java class name: %s", msg)
	}
}
