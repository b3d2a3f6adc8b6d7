package io.github.tidemark.bench.mariadb;

import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverPropertyInfo;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.logging.Logger;

/**
 * MySQL's Connector/J with {@link BinaryLogStatusInterceptor} installed: the connector's
 * {@code database.jdbc.driver} (bench/debezium.go).
 *
 * <p>Debezium removes {@code queryInterceptors} from the driver properties it is given
 * ({@code driver.*}), so a user cannot load arbitrary classes into the driver through the
 * connector's configuration; this driver adds the one interceptor of this module itself, and
 * nothing else differs from {@code com.mysql.cj.jdbc.Driver}, which it delegates to.
 */
public final class MariaDbCompatDriver implements Driver {
    private final Driver delegate;

    public MariaDbCompatDriver() throws SQLException {
        this.delegate = new com.mysql.cj.jdbc.Driver();
    }

    @Override
    public Connection connect(String url, Properties info) throws SQLException {
        Properties props = new Properties();
        if (info != null) {
            props.putAll(info);
        }
        props.setProperty("queryInterceptors", BinaryLogStatusInterceptor.class.getName());
        return delegate.connect(url, props);
    }

    @Override
    public boolean acceptsURL(String url) throws SQLException {
        return delegate.acceptsURL(url);
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) throws SQLException {
        return delegate.getPropertyInfo(url, info);
    }

    @Override
    public int getMajorVersion() {
        return delegate.getMajorVersion();
    }

    @Override
    public int getMinorVersion() {
        return delegate.getMinorVersion();
    }

    @Override
    public boolean jdbcCompliant() {
        return delegate.jdbcCompliant();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        return delegate.getParentLogger();
    }
}
