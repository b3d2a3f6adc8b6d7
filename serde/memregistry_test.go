package serde

import (
	"context"
	"strconv"
	"sync"
)

// MemRegistry is an in-process Registry: ids are assigned per distinct
// schema text, the same id for the same text under any subject (as
// Confluent's and Apicurio's content ids are). For unit tests and dry runs;
// it has no compatibility rules.
type MemRegistry struct {
	mu       sync.Mutex
	byText   map[string]int
	texts    []string // id-1 → text
	subjects map[string][]int
	calls    int
}

// NewMemRegistry returns an empty in-memory registry.
func NewMemRegistry() *MemRegistry {
	return &MemRegistry{byText: map[string]int{}, subjects: map[string][]int{}}
}

// Register implements Registry.
func (m *MemRegistry) Register(_ context.Context, subject, schema string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	id, ok := m.byText[schema]
	if !ok {
		m.texts = append(m.texts, schema)
		id = len(m.texts)
		m.byText[schema] = id
	}
	for _, v := range m.subjects[subject] {
		if v == id {
			return id, nil
		}
	}
	m.subjects[subject] = append(m.subjects[subject], id)
	return id, nil
}

// Schema implements Registry.
func (m *MemRegistry) Schema(_ context.Context, id int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id < 1 || id > len(m.texts) {
		return "", &RegistryError{Op: "get schema id " + strconv.Itoa(id), StatusCode: 404, ErrorCode: 40403, Message: "schema not found"}
	}
	return m.texts[id-1], nil
}

// Versions returns the ids registered under subject, oldest first.
func (m *MemRegistry) Versions(subject string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.subjects[subject]...)
}

// RegisterCalls counts Register calls, for tests that check caching.
func (m *MemRegistry) RegisterCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}
