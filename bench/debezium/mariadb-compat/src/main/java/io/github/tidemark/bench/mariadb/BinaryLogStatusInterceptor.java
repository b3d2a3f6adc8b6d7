package io.github.tidemark.bench.mariadb;

import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.function.Supplier;

import com.mysql.cj.MysqlConnection;
import com.mysql.cj.Query;
import com.mysql.cj.interceptors.QueryInterceptor;
import com.mysql.cj.jdbc.JdbcConnection;
import com.mysql.cj.log.Log;
import com.mysql.cj.protocol.Resultset;
import com.mysql.cj.protocol.ServerSession;

/**
 * Answers {@code SHOW BINARY LOG STATUS} with MariaDB's {@code SHOW MASTER STATUS}.
 *
 * <p>Debezium 3.6's MySQL connector asks for the binlog position with {@code SHOW BINARY LOG
 * STATUS} (MySQL 8.2's name for {@code SHOW MASTER STATUS}) and, when that fails on a server
 * whose version parses as 8.4 or later, refuses to start (MySqlConnection
 * #resolveBinaryLogStatusStatement, debezium/dbz#1561). MariaDB 10.11 reports "10.11.x", so it
 * counts as later, and it knows the statement only as {@code SHOW MASTER STATUS}. Debezium 3.5
 * and earlier fell back to {@code SHOW MASTER STATUS} there; this interceptor gives the
 * connector that same answer (File, Position, Binlog_Do_DB, Binlog_Ignore_DB) and touches no
 * other statement. Debezium's MariaDB connector, which would not need it, is not served to
 * this project.
 */
public final class BinaryLogStatusInterceptor implements QueryInterceptor {
    private static final String ASKED = "SHOW BINARY LOG STATUS";
    private static final String ANSWERED_WITH = "SHOW MASTER STATUS";

    private JdbcConnection connection;

    @Override
    public QueryInterceptor init(MysqlConnection conn, Properties props, Log log) {
        this.connection = (JdbcConnection) conn;
        return this;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends Resultset> T preProcess(Supplier<String> sql, Query interceptedQuery) {
        String s = sql == null ? null : sql.get();
        if (s == null || !s.trim().equalsIgnoreCase(ASKED)) {
            return null; // every other statement runs as sent
        }
        try {
            Statement st = connection.createStatement();
            return (T) st.executeQuery(ANSWERED_WITH);
        }
        catch (SQLException e) {
            // Let the original statement run and fail with Debezium's own message.
            return null;
        }
    }

    @Override
    public boolean executeTopLevelOnly() {
        return true; // not for the SHOW MASTER STATUS this interceptor runs itself
    }

    @Override
    public void destroy() {
    }

    @Override
    public <T extends Resultset> T postProcess(Supplier<String> sql, Query interceptedQuery, T originalResultSet,
                                               ServerSession serverSession) {
        return null; // keep the original result
    }
}
